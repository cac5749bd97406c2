package main

// maybeRunAsInit runs the VM guest init when silo is PID 1 of a VM, and
// reports whether it did.
func maybeRunAsInit() bool { return false }
