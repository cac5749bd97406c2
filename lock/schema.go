package lock

// The types in this file mirror the TOML files key for key. They are decoded
// strictly (an unknown key is an error), and every scalar is a pointer so that
// the merge can tell "not set here" from "set to the zero value".

// globalFile is $SILO_HOME/config.toml and the built-in defaults: tool
// definitions, one [tool.NAME] table each.
type globalFile struct {
	Tool map[string]*toolDef `toml:"tool"`
}

// toolDef is one tool definition.
type toolDef struct {
	Image        *string           `toml:"image"`
	Shims        []string          `toml:"shims"`
	Env          map[string]string `toml:"env"`
	Workdir      *string           `toml:"workdir"`
	Cache        []cacheDef        `toml:"cache"`
	Network      *networkDef       `toml:"network"`
	CPUs         *int              `toml:"cpus"`
	MemoryMB     *int              `toml:"memoryMB"`
	MaxProcesses *int              `toml:"maxProcesses"`
	RootfsSizeMB *int              `toml:"rootfsSizeMB"`
	MaxFiles     *int              `toml:"maxFiles"`
	PostInstall  any               `toml:"postInstall"` // a string, or an array of strings
	Setup        *string           `toml:"setup"`
	LSP          []string          `toml:"lsp"`
	LSPInstall   *string           `toml:"lspInstall"`
	Versions     []string          `toml:"versions"`
}

// cacheDef is one package-cache mount ([[cache]]).
type cacheDef struct {
	Guest    *string `toml:"guest"`
	Host     *string `toml:"host"`
	SizeHint *string `toml:"sizeHint"`
	NoGC     *bool   `toml:"noGC"`
	Shared   *bool   `toml:"shared"`
}

// networkDef is a tool's network policy.
type networkDef struct {
	HostAccess *bool `toml:"hostAccess"`
	// TrustHostCAs passes the host's CA bundle into the sandbox.
	TrustHostCAs *bool     `toml:"trustHostCAs"`
	Proxy        *proxyDef `toml:"proxy"`
}

// proxyDef lists the domains the network proxy lets through.
type proxyDef struct {
	Allow        []string `toml:"allow"`
	Deny         []string `toml:"deny"`
	InstallAllow []string `toml:"installAllow"`
}

// projectFile is a silo.toml: the project's own, or the user-wide
// $SILO_HOME/silo.toml.
type projectFile struct {
	Tools        []string                `toml:"tools"`
	PassEnv      []string                `toml:"passEnv"`
	PassFiles    []string                `toml:"passFiles"`
	PassSSHAgent *bool                   `toml:"passSshAgent"`
	Mount        *mountDef               `toml:"mount"`
	Overrides    map[string]*overrideDef `toml:"overrides"`
	Cache        *cachePolicyDef         `toml:"cache"`

	// Silo's snake_case spellings, read as the camelCase keys above.
	PassEnvSnake      []string `toml:"pass_env" alias:"passEnv"`
	PassFilesSnake    []string `toml:"pass_files" alias:"passFiles"`
	PassSSHAgentSnake *bool    `toml:"pass_ssh_agent" alias:"passSshAgent"`
}

// mountDef is the [mount] table.
type mountDef struct {
	Exclude []string `toml:"exclude"`
	Mode    *string  `toml:"mode"`
}

// overrideDef is an [overrides.TOOL] table.
type overrideDef struct {
	Image        *string           `toml:"image"`
	Env          map[string]string `toml:"env"`
	CPUs         *int              `toml:"cpus"`
	MemoryMB     *int              `toml:"memoryMB"`
	MaxProcesses *int              `toml:"maxProcesses"`
	RootfsSizeMB *int              `toml:"rootfsSizeMB"`
	MaxFiles     *int              `toml:"maxFiles"`
	Workdir      *string           `toml:"workdir"`
	PassEnv      []string          `toml:"passEnv"`
	PassSSHAgent *bool             `toml:"passSshAgent"`
	PostInstall  any               `toml:"postInstall"` // a string, or an array of strings
	LSP          []string          `toml:"lsp"`
	LSPInstall   *string           `toml:"lspInstall"`
	Cache        []cacheDef        `toml:"cache"`
	Network      *networkDef       `toml:"network"`
	Ports        []portDef         `toml:"ports"`

	// Silo's snake_case spellings, read as the camelCase keys above.
	PassEnvSnake      []string `toml:"pass_env" alias:"passEnv"`
	PassSSHAgentSnake *bool    `toml:"pass_ssh_agent" alias:"passSshAgent"`
}

// portDef is one [[overrides.TOOL.ports]] entry.
type portDef struct {
	Host  *int `toml:"host"`
	Guest *int `toml:"guest"`
}

// cachePolicyDef is the [cache] table: limits for the rootfs and tool caches.
type cachePolicyDef struct {
	Rootfs *rootfsLimitsDef `toml:"rootfs"`
	Tools  *toolLimitsDef   `toml:"tools"`
}

// rootfsLimitsDef is [cache.rootfs].
type rootfsLimitsDef struct {
	MaxSizeMB  *int `toml:"maxSizeMB"`
	MaxAgeDays *int `toml:"maxAgeDays"`
}

// toolLimitsDef is [cache.tools]: its maxSizeMB bounds each mount;
// [cache.tools.perMount] sets the bound of named mounts ("rust/cargo" = 8192).
type toolLimitsDef struct {
	MaxSizeMB  *int           `toml:"maxSizeMB"`
	MaxAgeDays *int           `toml:"maxAgeDays"`
	PerMount   map[string]int `toml:"perMount"`
}
