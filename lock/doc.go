// Package lock reads, validates and merges what a project wants
// (silo.toml, the global config) and what it resolved to (silo.lock).
package lock
