// Package sandbox is silo's run pipeline as a library: it turns "this
// tool, this command, in this directory" into a running sandbox and its
// exit status. `silo run`, `silo shell`, shims, builds and `silo lsp` all
// call it; the command line only fills a Request and prints.
//
// # The three steps
//
//	plan, err := sandbox.NewPlan(cfg, req)        // pure: config + request → spec
//	sb, err := plan.Prepare(ctx, st, backend, o)  // store and host work
//	defer sb.Close()
//	code, err := sb.Run(ctx)                      // guard, run, release
//
// NewPlan decides the image (the tool's, or Request.Image), the workspace
// (the directory of the project's silo.toml, else the working directory;
// never the user's home or one of its ancestors, never /), the working
// directory inside it, the command, and the spec from the tool's
// definition (an image without a tool gets silo's defaults with the
// project-wide settings of the silo.toml files: passEnv, passFiles,
// passSshAgent, mount): resources, ports, excluded and
// protected paths, caches, pass files (a project file shows under the
// guest's home; a file under the user's home at the same place under the
// guest's), the network policy (validated; the proxy enforces it) and the
// SSH agent when the tool has passSshAgent or the request SSHAgent. It
// touches no store and starts nothing; it reads the file system only to
// resolve directories.
//
// # The command
//
// With Request.Exec (silo exec, a shim, silo lsp) Args are the whole
// command. Otherwise (silo run) Args are the arguments of the tool's main
// command, as Silo has it: of the shim Request.Shim names (silo run
// --shim), else of the shim Args[0] names when it is one of the tool's
// (silo run node npm install runs npm install), else of the tool's first
// shim (silo run python x.py runs python x.py). A tool without shims, and
// an image, run the image's entrypoint with Args in place of its command,
// as docker run does (Plan.ImageArgs); without Args, the entrypoint and
// command. Shell with no Args runs /bin/sh. One leading "--" is dropped.
//
// Prepare resolves, from the one store handle it is given, what the
// backend boots (vm.Backend.Needs): the rootfs as a directory or an ext4
// image, pulled and assembled on first use, and a kernel and initfs for a
// backend that boots one; for a backend that restores VMs (vm.Snapshotter)
// also the memory snapshot of the spec's shape (kernel.Snapshot, made on
// first use; one that cannot be made is said in one line and the VM
// boots; one that does not restore is recorded broken through
// Spec.SnapshotFailed and rebuilt on the next run). The entries stay held by the handle's temporary
// root until the caller closes it. It then composes the guest environment
// (the image's, the tool's, passEnv's host variables, HOME, PATH, TERM,
// LANG; nothing else of the host's), opens the tool's cache directories
// (making them) beneath $SILO_HOME/cache with no symlink followed, for the
// backend to bind the directories opened, not their paths
// (vm.OpenCacheDir), and starts the network proxy when the policy allows
// anything; Options.Events is told each of the proxy's decisions (the
// command line prints the refusals after the command, and logs them).
//
// Run records the workspace (so that a silo.toml the sandbox leaves
// beneath it needs the user's trust), which no caller can leave out, and
// runs the backend; the agent's workspace filter (package vm/agent)
// guards the protected names while the command runs. Its exit status is the command's own, or 128+N
// when signal N ended it; its error is the sandbox's, never the command's.
//
// # The environment
//
// The package reads no environment variable: the host's variables reach
// it only through Request.HostEnv (for passEnv, TERM, LANG) and
// Request.SSHAuthSock, which the command line fills.
//
// # Builds and the lock
//
// Builder resolves a tool against its lock entry: the image pinned by
// digest (Plan.Digest), each build step's derivation from its parent,
// argv, environment, network and input hashes, its layer found in the
// store or built (a run of the step's plan, whose workspace holds only
// its inputs, captured by the agent: vm.Spec.Capture), and the rootfs of
// the image plus the steps' layers (Plan.Steps). Its Mode says what it
// may do: ModeBuild builds what is missing or changed, ModeLocked refuses
// any change, ModePull builds what is missing but reports changes,
// ModeStatus builds and pulls nothing, ModeRebuild runs every step again
// and makes each new output the step's (derive.RebuildStep), saying
// whether it is the one before. A step's stored output is the one the
// lock names by its layer digest when the store has several
// (derive.LookupStep): a rebuild that made other bytes does not move
// another project whose lock pins the earlier output.
// A failed step is a *StepError carrying the command's status; nothing
// of it is kept. ForRun applies the lock to a run's plan (rebuilding
// changed steps and rewriting the lock unless locked), Sync is silo
// pull's and silo status's per-tool state (ToolState), whose reasons name
// what made a step stale: an input file, the command (build step argv,
// with the key that set it: tool.NAME.setup, tool.NAME.postInstall), or
// the configuration key (tool.NAME.image, tool.NAME.env.VAR,
// tool.NAME.network.allow, .installAllow, .deny, .hostAccess) with the
// file:line:column that sets it now, by diffing the lock's derivedFrom
// against the configuration (a lock without it gets the general
// wording). The lock keeps its derivedFrom while every step's derivation
// is the locked one, so a change that no derivation sees (a host moved
// from installAllow to allow) does not rewrite it. Update rewrites
// the lock from fresh resolutions, Check rebuilds and compares (silo
// build --check). Project holds the lock and the user's global builds,
// and a tool's steps (Defs): its setup and postInstall commands, the
// user's global builds, then the project's. Outside a locked project a
// run uses the user's global build of its tool, realising the tool's
// setup into it the first time (silo install does so up front), and
// SetGlobal records it. A lock roots each tool's closure as one part of
// its indirect root (store.SetIndirectRootParts): a rebuilt tool's old
// outputs become collectable, the other tools' stay pinned. Plan.ExcludeDirs backs the
// excluded paths with the project's kept directories, seeding them from
// the build.
package sandbox
