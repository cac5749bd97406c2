// Package derive describes how store entries are made and makes them.
//
// A derivation is a small, canonically serialized description of an
// entry's inputs (image digest and platform, setup steps, parents); its
// blake3 hash addresses the output before the output exists. Realising a
// derivation builds the output into the store, or finds it already there.
package derive
