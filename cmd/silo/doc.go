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
//
// # Editors
//
// silo lsp TOOL [-- ARGS] is silo exec of the tool's lsp command (and
// ARGS) at the workspace's root, with stdin and stdout carried through
// package lsp's mapper: the editor's paths and file URIs under the
// workspace become the sandbox's (/workspace, or the tool's workdir) and
// back. Its stdout carries nothing but the server's messages; everything
// silo says goes to stderr. Before the first start it runs the tool's
// lspInstall as a global build step (as silo build --global TOOL sh -c
// LSPINSTALL), unless the user's global builds already hold that step. The
// connection ends, and the sandbox with it, when stdin ends or the
// editor's exit notification has passed: the server's stdin is closed, and
// a server still running 400 ms later is killed with its sandbox. silo
// asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG) and
// takes SIGTERM or SIGHUP as the end of the connection, so a killed
// editor leaves no sandbox even when something else holds silo's stdin.
// A framing error on either side ends the connection at once. The run is
// recorded for silo status with the role "language server". A server the
// sandbox does not have (exit 127) is reported with what to set.
//
// silo ide EDITOR writes (vscode: .vscode/settings.json; zed:
// .zed/settings.json) or prints (neovim: Lua for vim.lsp.config; helix:
// languages.toml) the configuration that starts silo lsp TOOL for each of
// the project's tools with an lsp. Settings files are edited in place with
// internal/jsonc: only the values silo owns change (VS Code: the entries
// named silo-TOOL of vscode-lspconfig.serverConfigurations; Zed:
// lsp.SERVER.binary, and languages.LANG.language_servers where unset); a
// Zed server binary the user set stays, with a note on stderr.
package main
