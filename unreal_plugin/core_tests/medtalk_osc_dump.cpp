// medtalk_osc_dump: a small receiver built on the portable core, for tests and diagnosis.
// Listens on 127.0.0.1:<port> (UDP), routes our OSC frames and names by subject (as the plugin
// does) and prints:
//   READY <port>                           once bound (port 0 picks a free one)
//   NAMES <subject> <count> <generation>   when a subject's names list completes and differs
//   NAME <index> <name>                    one line per name after NAMES
//   FRAME <subject> <number> <capture time %a> <value bits as 8 hex digits>...   float32-exact
//   REJECT <reason>                        for each datagram with a rejected message
//   DONE <frames> | TIMEOUT <frames>       at exit (exit status 0 / 3)
// Usage: medtalk_osc_dump [--subject NAME] [--port P] [--frames N] [--timeout SECONDS]
//        (no --subject: every subject, as the plugin's default)
//        medtalk_osc_dump --timecode UNIX_SECONDS   prints "<frame> <subframe %a>" (local time)
// POSIX sockets: Linux and macOS (the Unreal plugin uses Unreal's sockets instead).
#include "MedtalkSubjects.h"
#include "MedtalkTimecode.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static int Usage()
{
	std::fprintf(stderr, "usage: medtalk_osc_dump [--subject NAME] [--port P] [--frames N] [--timeout SECONDS]\n"
		"       medtalk_osc_dump --timecode UNIX_SECONDS\n");
	return 2;
}

int main(int Argc, char** Argv)
{
	std::string Subject;
	int Port = 9000;
	long MaxFrames = -1;
	double TimeoutS = 10.0;
	for (int I = 1; I < Argc; ++I)
	{
		const std::string Flag = Argv[I];
		if (I + 1 >= Argc)
		{
			return Usage();
		}
		const char* Value = Argv[++I];
		if (Flag == "--subject") Subject = Value;
		else if (Flag == "--port") Port = std::atoi(Value);
		else if (Flag == "--frames") MaxFrames = std::atol(Value);
		else if (Flag == "--timeout") TimeoutS = std::atof(Value);
		else if (Flag == "--timecode")
		{
			const medtalk::FrameOfDay T = medtalk::FrameOfLocalDay(std::strtod(Value, nullptr));
			std::printf("%d %a\n", T.Frame, static_cast<double>(T.SubFrame));
			return 0;
		}
		else return Usage();
	}
	if ((!Subject.empty() && !medtalk::IsValidSubject(Subject)) || Port < 0 || Port > 65535)
	{
		return Usage();
	}

	const int Sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (Sock < 0)
	{
		std::perror("socket");
		return 1;
	}
	const int RecvBuffer = 4 << 20;  // room for bursts: a sender may run faster than real time
	setsockopt(Sock, SOL_SOCKET, SO_RCVBUF, &RecvBuffer, sizeof(RecvBuffer));
	sockaddr_in Addr{};
	Addr.sin_family = AF_INET;
	Addr.sin_port = htons(static_cast<uint16_t>(Port));
	Addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(Sock, reinterpret_cast<sockaddr*>(&Addr), sizeof(Addr)) != 0)
	{
		std::perror("bind");
		return 1;
	}
	socklen_t Len = sizeof(Addr);
	getsockname(Sock, reinterpret_cast<sockaddr*>(&Addr), &Len);
	std::printf("READY %d\n", ntohs(Addr.sin_port));
	std::fflush(stdout);

	medtalk::SubjectRouter Router(Subject);
	std::vector<uint8_t> Buffer(65536);
	long Frames = 0;
	const auto Deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(TimeoutS);
	while (MaxFrames < 0 || Frames < MaxFrames)
	{
		const auto Left = std::chrono::duration_cast<std::chrono::milliseconds>(Deadline - std::chrono::steady_clock::now());
		if (Left.count() <= 0)
		{
			std::printf("TIMEOUT %ld\n", Frames);
			close(Sock);
			return 3;
		}
		pollfd Fd{Sock, POLLIN, 0};
		if (poll(&Fd, 1, static_cast<int>(Left.count())) <= 0)
		{
			continue;
		}
		const ssize_t Got = recv(Sock, Buffer.data(), Buffer.size(), 0);
		if (Got < 0)
		{
			continue;
		}
		// Decode from an exact-size copy so that sanitizers see the datagram's real end.
		const std::vector<uint8_t> Datagram(Buffer.begin(), Buffer.begin() + Got);
		const medtalk::DatagramResult Result = Router.Feed(Datagram.data(), Datagram.size());
		if (Result.Rejected > 0)
		{
			std::printf("REJECT %s\n", Result.Error.c_str());
		}
		for (const medtalk::NamesUpdate& Update : Result.NamesChanged)
		{
			std::printf("NAMES %s %zu %llu\n", Update.Subject.c_str(), Update.Names.size(),
				static_cast<unsigned long long>(Update.Generation));
			for (size_t I = 0; I < Update.Names.size(); ++I)
			{
				std::printf("NAME %zu %s\n", I, Update.Names[I].c_str());
			}
		}
		for (const medtalk::SubjectFrame& F : Result.Frames)
		{
			std::printf("FRAME %s %d %a", F.Subject.c_str(), F.Values.FrameNumber, F.Values.CaptureTime);
			for (const float V : F.Values.Values)
			{
				uint32_t Bits;
				std::memcpy(&Bits, &V, sizeof(Bits));
				std::printf(" %08x", Bits);
			}
			std::printf("\n");
			++Frames;
		}
		std::fflush(stdout);
	}
	std::printf("DONE %ld\n", Frames);
	close(Sock);
	return 0;
}
