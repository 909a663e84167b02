"""Integrations with libraries that have no TensorBoard writer of their own without
TensorFlow or torch: each submodule imports its library only when used, and ``import
tbwrite`` imports none of them.

- :mod:`tbwrite.integrations.clu`: clu's ``MetricWriter`` interface, for JAX/Flax code.
- :mod:`tbwrite.integrations.sklearn`: a fitted ``*SearchCV`` as an HParams sweep.
- :mod:`tbwrite.integrations.optuna`: a study callback writing each trial as a session.
- :mod:`tbwrite.integrations.ray`: a Ray Tune ``LoggerCallback``.
- :mod:`tbwrite.integrations.keras`: Keras 3's ``TensorBoard`` callback without TensorFlow.
- :mod:`tbwrite.integrations.xgboost`: an XGBoost ``TrainingCallback``, eval sets as sub-runs.
- :mod:`tbwrite.integrations.lightgbm`: a LightGBM callback, eval sets as sub-runs.
"""

__all__: list[str] = []
