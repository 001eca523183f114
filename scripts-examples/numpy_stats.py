# /// script
# dependencies = ["numpy>=1.24"]
# ///
"""A small numpy computation: a least-squares line through noisy points."""

import numpy as np

rng = np.random.default_rng(seed=723)
x = np.linspace(0, 10, 200)
y = 3.0 * x + 2.0 + rng.normal(scale=0.5, size=x.size)
slope, intercept = np.polyfit(x, y, 1)
print(f"slope={slope:.2f} intercept={intercept:.2f} numpy={np.__version__}")
