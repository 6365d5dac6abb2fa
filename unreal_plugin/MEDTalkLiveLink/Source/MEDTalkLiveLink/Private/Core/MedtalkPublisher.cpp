// MEDTalk Live Link: static-data and frame publication rules. See MedtalkPublisher.h.
#include "MedtalkPublisher.h"

namespace medtalk
{

void Publisher::OnNames(const NamesUpdate& Update)
{
	std::lock_guard<std::mutex> Lock(Mutex);
	Subject& S = Subjects[Update.Subject];
	S.Names = Update.Names;
	S.Generation = Update.Generation;
	S.Armed = false;
}

void Publisher::OnFrame(const SubjectFrame& Frame)
{
	std::lock_guard<std::mutex> Lock(Mutex);
	const auto Found = Subjects.find(Frame.Subject);
	if (Found == Subjects.end() || Found->second.Pushed == 0 || Found->second.Pushed != Frame.Values.NamesGeneration)
	{
		++Stats.FramesDropped;
		return;
	}
	Sink.PushFrame(Frame.Subject, Frame.Values);
	++Stats.FramesPushed;
}

bool Publisher::Tick()
{
	std::unique_lock<std::mutex> Lock(Mutex, std::try_to_lock);
	if (!Lock.owns_lock())
	{
		return false;
	}
	++TickCount;
	for (auto& [Name, S] : Subjects)
	{
		if (S.Generation != S.Pushed)
		{
			if (!S.Armed)
			{
				S.Armed = true;
				S.ArmedTick = TickCount;
			}
			else if (TickCount > S.ArmedTick)
			{
				Sink.PushStatic(Name, S.Names);
				S.Pushed = S.Generation;
				S.PushedTick = TickCount;
				S.Armed = false;
				++Stats.StaticPushes;
			}
		}
		else if (S.Pushed != 0 && TickCount > S.PushedTick && !Sink.SubjectPresent(Name))
		{
			// Frames queued meanwhile carry this same list, so the push need not wait a tick.
			Sink.PushStatic(Name, S.Names);
			S.PushedTick = TickCount;
			++Stats.StaticPushes;
			++Stats.Republished;
		}
	}
	return true;
}

PublisherCounts Publisher::Counts() const
{
	std::lock_guard<std::mutex> Lock(Mutex);
	PublisherCounts Out = Stats;
	for (const auto& [Name, S] : Subjects)
	{
		if (S.Pushed != 0)
		{
			Out.Subjects.push_back(Name);
		}
	}
	return Out;
}

} // namespace medtalk
