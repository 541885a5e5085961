"""The built-in generated datasets: the weld-surface demo set, the shapes set, and their shared writer."""
