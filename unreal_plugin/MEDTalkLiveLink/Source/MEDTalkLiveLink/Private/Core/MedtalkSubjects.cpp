// MEDTalk Live Link: routing a socket's messages to per-subject assemblers. See MedtalkSubjects.h.
#include "MedtalkSubjects.h"

#include <cstring>
#include <utility>

namespace medtalk
{

bool IsValidSubject(const std::string& Subject)
{
	if (Subject.empty() || Subject.size() > 255)
	{
		return false;
	}
	for (const char Ch : Subject)
	{
		const unsigned char Byte = static_cast<unsigned char>(Ch);
		if (Byte <= 32 || Byte > 126 || std::strchr("/#*,?[]{}", Ch) != nullptr)
		{
			return false;
		}
	}
	return true;
}

bool ParseAddress(const std::string& Address, std::string& Subject, std::string& Kind)
{
	static const std::string Prefix = "/medtalk/";
	if (Address.compare(0, Prefix.size(), Prefix) != 0)
	{
		return false;
	}
	const size_t Slash = Address.find('/', Prefix.size());
	if (Slash == std::string::npos)
	{
		return false;
	}
	std::string ParsedSubject = Address.substr(Prefix.size(), Slash - Prefix.size());
	std::string ParsedKind = Address.substr(Slash + 1);
	if (!IsValidSubject(ParsedSubject) || (ParsedKind != "frame" && ParsedKind != "names"))
	{
		return false;
	}
	Subject = std::move(ParsedSubject);
	Kind = std::move(ParsedKind);
	return true;
}

SubjectRouter::SubjectRouter(std::string InFilter)
	: Filter_(std::move(InFilter))
{
}

FrameAssembler* SubjectRouter::FindOrAdd(const std::string& Subject, DatagramResult& Result)
{
	const auto Found = Assemblers_.find(Subject);
	if (Found != Assemblers_.end())
	{
		return Found->second.get();
	}
	if (Assemblers_.size() >= kMaxSubjects)
	{
		++Result.OverSubjectLimit;
		return nullptr;
	}
	return Assemblers_.emplace(Subject, std::make_unique<FrameAssembler>(Subject)).first->second.get();
}

DatagramResult SubjectRouter::Feed(const uint8_t* Data, size_t Size)
{
	DatagramResult Result;
	std::vector<osc::Message> Messages;
	Result.OscStatus = osc::DecodePacket(Data, Size, Messages);
	if (Result.OscStatus != osc::Status::Ok)
	{
		Result.Rejected = 1;
		Result.Error = std::string("malformed OSC: ") + osc::StatusText(Result.OscStatus);
		return Result;
	}
	for (const osc::Message& M : Messages)
	{
		std::string Subject;
		std::string Kind;
		if (!ParseAddress(M.Address, Subject, Kind) || (!Filter_.empty() && Subject != Filter_))
		{
			++Result.Ignored;
			Result.IgnoredAddress = M.Address;
			continue;
		}
		FrameAssembler* Assembler = FindOrAdd(Subject, Result);
		if (Assembler == nullptr)
		{
			continue;
		}
		FeedResult One;
		Assembler->Apply(M, One);
		Result.Rejected += One.Rejected;
		Result.WaitingForNames += One.WaitingForNames;
		Result.Stale += One.Stale;
		if (!One.Error.empty())
		{
			Result.Error = Subject + ": " + One.Error;
		}
		if (One.NamesChanged)
		{
			Result.NamesChanged.push_back(NamesUpdate{Subject, Assembler->Names(), Assembler->NamesGeneration()});
		}
		for (Frame& F : One.Frames)
		{
			Result.Frames.push_back(SubjectFrame{Subject, std::move(F)});
		}
	}
	return Result;
}

} // namespace medtalk
