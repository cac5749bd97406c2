// Command silo runs developer tools inside throwaway sandboxes that see the
// project directory and nothing else.
//
// It is the command line: kong parses it, the environment silo honours is
// read here (kong env tags on Globals) and nowhere below, and every run
// fills a sandbox.Request for package sandbox (NewPlan, Prepare, Run).
//
// # Names silo answers to
//
// Called as silo, it reads its own command line. Called under any other
// name (argv[0] not silo, silo-*, and not serving __agent), it is a shim:
// $SILO_HOME/bin/NAME is a symbolic link to the silo binary, and NAME
// ARGS runs the shim NAME of the tool that owns it, with ARGS exactly as
// given, in the sandbox, when the project here claims the tool
// (lock.Config.Claims) or the tool is pinned ($SILO_HOME/pins). Otherwise
// the shim steps aside: it executes the next NAME on PATH, skipping every
// PATH entry that is the shim directory (however named: twice, through a
// symlink) and every file that is the silo binary itself, and prints
// nothing of its own; with no other NAME it says so and exits 127. A shim
// loads the configuration only when a silo.toml is found or a tool is
// pinned, and parses no command line of silo's.
//
// A first word that names no command is shorthand for silo run (silo
// python x.py, silo npm test: a shim's name runs that shim); a command of
// the same name wins.
//
// # Exit status
//
// The command's own; 128+N when signal N ended it; 1 when silo failed (one
// sentence and the command to type next); 2 for a command line silo cannot
// read (one line on stderr, with a did-you-mean, never the usage); 127
// when a shim steps aside and finds no other command of its name.
//
// # What a run leaves in $SILO_HOME
//
// A run is recorded in sandboxes/PID.json while it runs (silo status
// ignores and removes the records of dead processes); each connection the
// network policy refuses is appended to log/refusals.jsonl (capped at 1
// MiB, one older file kept; silo log) and, once per host, said after the
// command with the silo.toml lines that allow it. When the [cache.rootfs]
// policy sets a limit, a run starts the store's eviction at most once a
// day, in a detached process (__gc-policy) that a second one does not run
// beside (a lock file), so the run never waits for it.
package main
