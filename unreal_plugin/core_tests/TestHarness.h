// Test helper: CHECK (counts failures, keeps going) and a main() body that runs the case named
// on the command line (CTest runs one case per test) or every case.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>

namespace medtalk::test
{
inline int Failures = 0;

inline int RunCases(int Argc, char** Argv, const std::map<std::string, std::function<void()>>& Cases)
{
	int Ran = 0;
	for (const auto& [Name, Run] : Cases)
	{
		if (Argc < 2 || Name == Argv[1])
		{
			Run();
			++Ran;
			std::printf("%s: %s\n", Name.c_str(), Failures ? "FAILED" : "ok");
		}
	}
	if (Ran == 0)
	{
		std::fprintf(stderr, "unknown test case %s\n", Argv[1]);
		return 2;
	}
	return Failures == 0 ? 0 : 1;
}
} // namespace medtalk::test

#define CHECK(Cond)                                                                       \
	do                                                                                    \
	{                                                                                     \
		if (!(Cond))                                                                      \
		{                                                                                 \
			std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #Cond); \
			++medtalk::test::Failures;                                                    \
		}                                                                                 \
	} while (0)
