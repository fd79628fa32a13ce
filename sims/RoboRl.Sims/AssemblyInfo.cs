// Stack buffers in the step (stackalloc) are always fully written before being read; skipping their
// zero-initialisation removed ~3 % of the task step's time.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
