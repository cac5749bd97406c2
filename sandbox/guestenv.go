package sandbox

import (
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/silo-dev/silo/lock"
	"github.com/silo-dev/silo/vm"
)

// HostCAGuestPath is where a tool with network.trustHostCAs finds the
// host's CA bundle inside, read-only.
const HostCAGuestPath = "/etc/silo/host-ca.pem"

// caVariables are the variables the usual clients read a CA bundle from:
// OpenSSL and Go (SSL_CERT_FILE), Node, pip, requests, Cargo and git.
var caVariables = []string{
	"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CARGO_HTTP_CAINFO", "GIT_SSL_CAINFO",
}

// trustHostCAs passes the host's CA bundle when the tool asks for it, and
// points the clients' CA variables at it (under the tool's own env, which
// wins). Behind a TLS-inspecting proxy the bundle holds the proxy's CA,
// which the image's does not.
func (p *Plan) trustHostCAs(t *lock.Tool, req Request) {
	if !t.TrustHostCAs {
		return
	}
	if req.HostCABundle == "" {
		p.warnf("network.trustHostCAs is set (%s), but this host has no CA bundle silo can find: set SSL_CERT_FILE to it", t.Origins["trustHostCAs"])
		return
	}
	p.Spec.PassFiles = append(p.Spec.PassFiles, vm.PassFile{Host: req.HostCABundle, Guest: HostCAGuestPath})
	if p.env.Defaults == nil {
		p.env.Defaults = map[string]string{}
	}
	for _, k := range caVariables {
		p.env.Defaults[k] = HostCAGuestPath
	}
}

// pythonCommands are the shims that make a tool a Python tool.
var pythonCommands = []string{"python", "python3", "pip", "pip3", "uv", "jupyter", "ipython"}

// activateVenv activates the project's .venv for a Python tool, as
// `source .venv/bin/activate` would (VIRTUAL_ENV, and its bin first on
// PATH), when the project has one or keeps .venv as the sandbox's own
// (mount.exclude): python, pip and the scripts a venv installed are then
// the venv's. The tool's env can still set VIRTUAL_ENV otherwise.
func (p *Plan) activateVenv(t *lock.Tool) {
	if !isPythonTool(t) {
		return
	}
	fi, err := os.Lstat(filepath.Join(p.Spec.Workspace, ".venv"))
	if !(err == nil && fi.IsDir()) && !slices.Contains(t.Exclude, ".venv") {
		return
	}
	wd := p.Spec.Workdir
	if wd == "" {
		wd = vm.DefaultWorkdir
	}
	venv := path.Join(wd, ".venv")
	if p.env.Defaults == nil {
		p.env.Defaults = map[string]string{}
	}
	p.env.Defaults["VIRTUAL_ENV"] = venv
	p.env.PathPrefix = append(p.env.PathPrefix, venv+"/bin")
}

// isPythonTool reports whether t runs Python: by its name or its shims.
func isPythonTool(t *lock.Tool) bool {
	if slices.Contains(pythonCommands, t.Name) {
		return true
	}
	for _, s := range t.Shims {
		if slices.Contains(pythonCommands, path.Base(s.Command)) {
			return true
		}
	}
	return false
}
