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
	RootfsSizeMB *int              `toml:"rootfsSizeMB"`
	PostInstall  *string           `toml:"postInstall"`
	Setup        *string           `toml:"setup"`
	LSP          []string          `toml:"lsp"`
	LSPInstall   *string           `toml:"lspInstall"`
}

// cacheDef is one package-cache mount ([[cache]]).
type cacheDef struct {
	Guest    *string `toml:"guest"`
	Host     *string `toml:"host"`
	SizeHint *string `toml:"sizeHint"`
	NoGC     *bool   `toml:"noGC"`
}

// networkDef is a tool's network policy.
type networkDef struct {
	HostAccess *bool     `toml:"hostAccess"`
	Proxy      *proxyDef `toml:"proxy"`
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
	RootfsSizeMB *int              `toml:"rootfsSizeMB"`
	Workdir      *string           `toml:"workdir"`
	PassEnv      []string          `toml:"passEnv"`
	PostInstall  *string           `toml:"postInstall"`
	Cache        []cacheDef        `toml:"cache"`
	Network      *networkDef       `toml:"network"`
	Ports        []portDef         `toml:"ports"`
	LSP          []string          `toml:"lsp"`
	LSPInstall   *string           `toml:"lspInstall"`
}

// portDef is one [[overrides.TOOL.ports]] entry.
type portDef struct {
	Host  *int `toml:"host"`
	Guest *int `toml:"guest"`
}

// cachePolicyDef is the [cache] table: limits for the rootfs and tool caches.
type cachePolicyDef struct {
	Rootfs *cacheLimitsDef `toml:"rootfs"`
	Tools  *cacheLimitsDef `toml:"tools"`
}

// cacheLimitsDef is [cache.rootfs] or [cache.tools].
type cacheLimitsDef struct {
	MaxSizeMB  *int  `toml:"maxSizeMB"`
	MaxAgeDays *int  `toml:"maxAgeDays"`
	PerMount   *bool `toml:"perMount"`
}
