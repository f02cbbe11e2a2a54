"""What the template's tests and benchmarks share: rendering and building generated projects
(`projects`) and reading the trigger-kind catalogue (`kinds`)."""
