// Package lock reads, validates and merges what a project wants
// (silo.toml, the global config) and what it resolved to (silo.lock).
//
// This file documents the configuration half. [Load] reads, in order:
//
//  1. silo's built-in tool definitions (defaults.toml, embedded);
//  2. $SILO_HOME/config.toml: tool definitions, one [tool.NAME] table each;
//  3. $SILO_HOME/silo.toml: the user's defaults for every project;
//  4. the project's silo.toml, found by walking up from the working
//     directory; the walk looks in $HOME but not above it, and stops at
//     the filesystem root. The directory holding it is the project root
//     and the sandbox's /workspace; without one, the working directory is.
//
// Every file is decoded strictly with github.com/pelletier/go-toml/v2: an
// unknown key, a value of the wrong type, an out-of-range number, a bad
// path or image reference is an [Error] naming file:line:column, and an
// unknown key comes with the nearest known one ("unknown key `passenv` —
// did you mean `passEnv`?"). Keys must be written in the schema's case.
// A file that is not TOML, or that holds a value of the wrong type, is
// reported at its first error; otherwise every problem in every file is
// reported at once. Either way Load returns no Config: nothing is
// half-applied. Loading takes time linear in a file's size: a file holds
// at most 1 MiB, 4096 keys and table headers, and 16 MiB of key paths
// (each key counted with its whole dotted path), far beyond any real
// configuration; more is an [Error] at the key that passed the limit.
//
// Host patterns (proxy.allow, proxy.deny, proxy.installAllow) are read
// with the proxy's own parser, netproxy.ParsePattern: a pattern silo.toml
// accepts is one the proxy reads the same way, and one the proxy could not
// read is refused here with its file:line:column instead of at run time.
// The network table's value is the proxy's policy type itself (Network is
// netproxy.Policy).
//
// # Tool definitions (config.toml)
//
//	[tool.python]
//	image = "python:3.12-slim"          # registry reference, or oci-layout:DIR[:TAG],
//	                                    # docker-archive:FILE, oci-archive:FILE
//	shims = ["python", "pip", "py:python3"]  # host name, or host:guest
//	env = { PYTHONDONTWRITEBYTECODE = "1" }
//	workdir = "/workspace"              # absolute, inside the sandbox
//	cpus = 2                            # 1-256
//	memoryMB = 2048                     # 64-1048576
//	maxProcesses = 2048                 # 16-4194304: processes and threads at once
//	rootfsSizeMB = 4096                 # 16-16777216
//	maxFiles = 250000                   # 1000-100000000: entries the image may hold
//	setup = "pip install ruff"          # run once when the tool's rootfs is built
//	postInstall = ["pip install -e ."]  # run in the project once the tool is installed:
//	                                    # one command, or a list run in order, each if the last succeeded
//	lsp = ["pylsp"]                     # the language server `silo lsp` runs inside the sandbox
//	lspInstall = "pip install python-lsp-server"  # the build step that installs it, on first use
//	versions = ["3.12-slim", "3.11-slim"]  # the image tags silo install TOOL@VERSION offers, default first
//	[[tool.python.cache]]               # a package cache kept across runs
//	guest = "/root/.cache/pip"          # absolute, inside the sandbox
//	host = "python/pip"                 # its name in the cache area (default TOOL/GUEST-PATH)
//	sizeHint = "2GiB"                   # B, KiB, MiB, GiB, TiB (binary, "i" optional; bare = MiB)
//	noGC = true                         # never evicted
//	shared = true                       # one directory for every project (default: one per project)
//	[tool.python.network]
//	hostAccess = false                  # true: host services (host.silo.internal) through the proxy
//	trustHostCAs = false                # true: the host's CA bundle inside, and SSL_CERT_FILE & co. name it
//	proxy.allow = ["pypi.org"]          # host names, "*.example.com", optional ":port"
//	proxy.deny = []
//	proxy.installAllow = []             # allowed only while setup and postInstall run
//
// A [tool.NAME] in config.toml replaces the built-in tool of that name
// whole; it does not merge with it. A shim name belongs to one tool: a tool
// of config.toml takes it from a built-in tool, and two tools of
// config.toml claiming one name is an error.
//
// # Project settings (silo.toml, user-wide and project)
//
//	tools = ["python", "node"]          # the tools the project uses
//	passEnv = ["GITHUB_TOKEN"]          # host variables passed in
//	passFiles = [".netrc"]              # host files passed in read-only
//	passSshAgent = false
//	[mount]
//	exclude = ["node_modules", ".venv"] # relative to the project root
//	mode = "rw"                         # "rw" or "ro"
//	[overrides.python]                  # image, env, cpus, memoryMB, maxProcesses, rootfsSizeMB, maxFiles,
//	cpus = 4                            # workdir, passEnv, passSshAgent, postInstall,
//	                                    # lsp, lspInstall, [[cache]]
//	[overrides.python.network]          # hostAccess, proxy.allow, proxy.deny,
//	proxy.allow = ["example.com"]       # proxy.installAllow
//	[[overrides.python.ports]]
//	host = 8000                         # 1-65535, each host port once
//	guest = 8000
//	[cache.rootfs]                      # the rootfs cache
//	maxSizeMB = 10240                   # 0: no limit
//	maxAgeDays = 30
//	[cache.tools]                       # package caches: maxSizeMB, maxAgeDays bound each mount
//	maxSizeMB = 4096
//	[cache.tools.perMount]              # a mount's own bound, by its name (Cache.Name)
//	"rust/cargo" = 8192
//
// # The catalog and the commands that write config.toml
//
// The built-in definitions are `silo install`'s catalog. The commands that
// write config.toml at the user's word (silo install, uninstall, shim add
// and remove) edit it as text, one [tool.NAME] block at a time ([ToolBlock],
// [SetToolBlock], [RemoveToolBlock], [SetBlockKey], [CatalogBlock]), so that
// the rest of the file stays as the user wrote it.
//
// # Which project claims a tool
//
// [Config.Claims] reports whether the project's own silo.toml names a tool,
// in its tools list or with an [overrides.TOOL] table (the user-wide
// silo.toml claims nothing): a shim runs the tool in the sandbox there, and
// steps aside elsewhere unless the tool is pinned. [Config.ImageSettings]
// is what a run of an image without a tool gets: silo's defaults with the
// project-wide settings (passEnv, passFiles, passSshAgent, mount).
//
// # Silo's spellings
//
// Files written for Silo (the macOS tool) load unchanged. Its tool name
// claude-code names the claude tool wherever a tool is named ([tool.*],
// [overrides.*], tools, [Config.Tool]; [CanonicalTool] for callers); a file
// naming both is an error. Its snake_case keys pass_env, pass_files and
// pass_ssh_agent (at the top of a silo.toml, and pass_env, pass_ssh_agent in
// [overrides.TOOL]) are read as passEnv, passFiles and passSshAgent, and
// [Config.Notes] holds one line per file suggesting the camelCase keys
// (Options.Notes prints it); a file that writes one key both ways is an
// error naming both lines.
//
// # Package caches
//
// A tool's [[cache]] directories live under $SILO_HOME/cache, each project
// in an area of its own: project/KEY/NAME, where KEY is the project root's
// base name and a hash of its path, and NAME the cache's `host` (default
// TOOL/GUEST-PATH). So a sandbox of one project cannot plant a wheel or a
// Go module that another project's sandbox runs. The user's own files
// (config.toml, $SILO_HOME/silo.toml) may set `shared = true` on a cache:
// it then lives at shared/NAME, one directory for every project, and
// `silo config show` says which. A project's silo.toml may neither share a
// cache nor name a `host` outside its tool's own area (TOOL/…; not `..`,
// not absolute): another tool's cache holds other secrets (claude's holds
// its credentials). Two caches, of any tools, whose directories are one or
// lie one inside the other are refused at load with file:line: a sandbox
// could replace the inner one with a symlink. The run path opens each
// cache directory beneath Cache.Root with no symlink followed
// (vm.OpenCacheDir) and binds the directory it opened.
//
// A project's own silo.toml comes with the code and is not trusted to reach
// outside the project: its passFiles and its local image paths
// (oci-layout:, docker-archive:, oci-archive:) must be relative and stay
// inside the project root, also after following symlinks; anything else is
// an [Error] at the key's file:line:column, which no trust lifts. The
// user-wide silo.toml and config.toml may also name absolute and ~/ paths.
// Relative paths in passFiles are resolved against the project root;
// relative local image paths against the directory of the file naming
// them; ~/ against $HOME.
//
// # Trust
//
// The user's own files ($SILO_HOME/config.toml and $SILO_HOME/silo.toml)
// are obeyed as they are. A project's silo.toml is obeyed only once the
// user has trusted its exact content (direnv's model) when it
//
//   - grants anything beyond the defaults, or
//   - is nested where a sandbox could have written it: it lies inside a
//     directory silo has given a sandbox (recorded by [NoteWorkspace]) and
//     changed since the first such sandbox, or inside another project
//     never recorded.
//
// A grant is a value of one of these keys that the project file sets and
// no earlier layer (built-in, config.toml, the user-wide silo.toml)
// already set: passEnv (also per tool), passFiles, passSshAgent = true,
// network.hostAccess = true, network.proxy.allow, network.proxy.installAllow,
// ports, [[cache]] entries, an image naming a local path, and
// mount.mode = "rw" where the user-wide silo.toml says "ro". Not grants,
// because they narrow the sandbox or shape it inside its fence: tools, env,
// workdir, cpus, memoryMB, rootfsSizeMB, maxFiles, an image from a registry,
// postInstall, lsp and lspInstall (they run inside the sandbox like any
// command), mount.exclude, any other mount.mode, network.proxy.deny,
// ports = [], and the [cache] limits.
//
// Otherwise Load fails with an [UntrustedError] holding a [Review] of the
// bytes it read: the file's grants, each with its line, and their SHA-256
// (printed as its first [ShortHashLen] hex digits). Trusting records that
// hash under $SILO_HOME/trusted, keyed by the file's absolute path; a file
// whose bytes differ is refused again, as changed. Trust is always of
// bytes that were shown: [Review.Trust] records the hash of the bytes the
// review read, `silo config trust FILE` reads the file once, shows its
// grants and asks on a terminal or checks `--expect HASH`, so a file
// swapped after the user read it stays untrusted. [ReviewFile] reviews a
// file as Load would take it; [WriteTrusted] writes a silo.toml that silo
// writes at the user's command (silo init, silo shim) and trusts it as
// written.
//
// # Merge rules
//
// For each tool, the layers apply in this order, later over earlier: the
// tool's definition (built-in or config.toml), then the user-wide
// silo.toml (its project-wide keys, then its [overrides.TOOL]), then the
// project's silo.toml (the same way).
//
//   - Scalars (image, workdir, cpus, memoryMB, rootfsSizeMB, maxFiles, postInstall,
//     lsp, lspInstall, passSshAgent, mount.mode, network.hostAccess, cache
//     limits) overlay: the last layer that sets one wins. Within one file
//     an [overrides.TOOL] key wins over the project-wide one.
//   - Maps (env) merge per key: a later layer's key wins, other keys stay.
//   - Lists (tools, passEnv, passFiles, mount.exclude, proxy.allow,
//     proxy.deny, proxy.installAllow) are unions: order kept, earlier
//     layers first, duplicates dropped.
//   - Package caches ([[cache]]) are a union keyed by guest path: an entry
//     with the guest path of an earlier one replaces it in place (and is
//     the project's own unless that entry says `shared = true`).
//   - [cache.tools.perMount] merges per mount name.
//   - ports is replaced whole: a layer that sets ports (even to []) sets
//     them all.
//
// Values no layer sets take silo's defaults: workdir /workspace, 2 CPUs,
// 2048 MiB of memory, 2048 processes, a 4096 MiB rootfs, mount mode rw,
// no network.
//
// The effective [Tool] has every path resolved: PassFiles, cache hosts and
// local image paths absolute and cleaned; Exclude relative to the project
// root, cleaned, never escaping it. Its Origins say, for each value, the
// file:line:column that set it, or "built-in".
//
// # silo.lock
//
// A project's lock file (LockFileName, beside its silo.toml) is a
// LockFile: a format version (LockVersion) and, per tool, the image
// reference, the manifest digest it resolved to (and the index digest
// when it named one), the platform, the derivation hash of the rootfs,
// the kernel's and initfs's content hashes when a VM backend ran it, what
// its build steps were derived from besides their parents, commands and
// inputs (derivedFrom, a LockFrom: the tool's variables, each with the
// blake3 hash of its value, and its network lists and hostAccess; only
// for a tool with steps, and optional: a lock written without it reads
// as before), and its build steps bottom first, each with its scope ("global" steps
// before "project" ones), argv, derivation hash, inputs (a
// project-relative path and its content hash each), output layer (sha256
// diff ID) and the content hash of the rootfs after it.
// silo.lock.example at the repository's top shows every field.
//
// Marshal writes it canonically (tools and keys in a fixed order, no
// timestamps, a trailing newline) and WriteLockFile atomically.
// ReadLockFile takes a missing or empty file (the workspace guard's
// placeholder) as no lock; otherwise it decodes strictly and checks the
// version (a newer one is refused), every digest and hash, the scopes
// and their order, and returns every problem as an *Error with its
// file:line:column and the repair command; a lock with any problem is
// not returned at all, so it is never half applied. The user's global
// builds use the same format ($SILO_HOME/builds.lock). What the entries
// mean and how they are made is the sandbox package's Builder.
package lock
