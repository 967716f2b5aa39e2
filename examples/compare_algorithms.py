"""Every asynchronous method on one problem and graph: who needs fewest computations
and communications to reach a target accuracy?

    python examples/compare_algorithms.py [--nodes 16] [--kappa 10] [--comm-rate 1.0]
        [--events 200000] [--eps 1e-2 1e-8] [--out compare_algorithms.png]

Runs in float64 (the exact methods go far below float32's resolution). Prints a
table of computations and communications to reach eps and saves a figure of
f(x̄) − f* against computations and against communications.
"""

from jaxgossip.cli.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
