package netproxy

// GuestAddr is where the agent listens for the proxy inside a sandbox.
const GuestAddr = "127.0.0.1:3128"

// GuestEnv is the environment a sandbox gets when its policy allows some
// network: every spelling of the proxy variables that common tools read
// (curl, pip, npm, cargo, go, git), pointing at addr (GuestAddr when
// empty), and NO_PROXY for the sandbox's own loopback.
func GuestEnv(addr string) []string {
	if addr == "" {
		addr = GuestAddr
	}
	url := "http://" + addr
	noProxy := "localhost,127.0.0.1,::1"
	return []string{
		"HTTP_PROXY=" + url, "http_proxy=" + url,
		"HTTPS_PROXY=" + url, "https_proxy=" + url,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
	}
}
