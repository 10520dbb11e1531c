#!/usr/bin/env python3
"""Times commands in alternation and prints their median wall times.

Usage: bench-alternating.py RUNS COMMAND [::: COMMAND]...

Each round starts every command once, in turn (reversed every other
round), so a change in the machine's load affects all of them alike.
A word N<PATH in a command opens PATH as descriptor N of that command,
which hyperfine cannot do without a shell (bwrap reads seccomp filters
from descriptors). Output goes to /dev/null. Ratios are relative to the
first command.
"""

import os
import statistics
import sys
import time

WARMUP_RUNS = 10


def parse(words):
    """Splits the words into commands, each a pair (argv, file actions)."""
    commands, argv, actions = [], [], []
    for word in words + [":::"]:
        if word == ":::":
            if not argv:
                sys.exit("bench-alternating: empty command")
            commands.append((argv, actions))
            argv, actions = [], []
        elif "<" in word and word.split("<", 1)[0].isdigit():
            fd, path = word.split("<", 1)
            actions.append((os.POSIX_SPAWN_OPEN, int(fd), path, os.O_RDONLY, 0))
        else:
            argv.append(word)
    return commands


def run(argv, actions, null):
    """Starts argv once and returns its wall time in seconds."""
    started = time.perf_counter()
    pid = os.posix_spawnp(
        argv[0],
        argv,
        os.environ,
        file_actions=actions
        + [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)],
    )
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench-alternating: {' '.join(argv)} failed ({status})")
    return elapsed


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    runs = int(sys.argv[1])
    commands = parse(sys.argv[2:])
    null = os.open(os.devnull, os.O_RDWR)
    for argv, actions in commands:
        for _ in range(WARMUP_RUNS):
            run(argv, actions, null)
    times = [[] for _ in commands]
    for round_number in range(runs):
        order = list(range(len(commands)))
        if round_number % 2:
            order.reverse()
        for index in order:
            argv, actions = commands[index]
            times[index].append(run(argv, actions, null))
    reference = statistics.median(times[0])
    for (argv, _), samples in zip(commands, times):
        samples.sort()
        median = statistics.median(samples)
        print(
            f"{median * 1000:6.2f} ms median, {samples[len(samples) // 4] * 1000:6.2f} ms p25, "
            f"{median / reference:5.2f} x first: {' '.join(argv)[:90]}"
        )


if __name__ == "__main__":
    main()
