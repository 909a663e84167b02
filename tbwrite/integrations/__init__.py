"""Integrations with libraries that have no TensorBoard writer of their own without
TensorFlow or torch: each submodule imports its library only when used, and ``import
tbwrite`` imports none of them.

- :mod:`tbwrite.integrations.clu`: clu's ``MetricWriter`` interface, for JAX/Flax code.
- :mod:`tbwrite.integrations.sklearn`: a fitted ``*SearchCV`` as an HParams sweep.
- :mod:`tbwrite.integrations.optuna`: a study callback writing each trial as a session.
- :mod:`tbwrite.integrations.ray`: a Ray Tune ``LoggerCallback``.
"""

__all__: list[str] = []
