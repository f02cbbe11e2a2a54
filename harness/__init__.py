"""What the template's tests and benchmarks share: rendering and building generated projects
(`projects`) and reading the trigger-kind catalogue (`kinds`); and the runner of the iii SDK's
own suite against the engine double (`sdk_suite`)."""
