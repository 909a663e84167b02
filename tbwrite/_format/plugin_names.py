"""The names TensorBoard's readers match on: plugin names and reserved tags.

One place for them, so the writers and the reader can never disagree. No imports.
"""

from __future__ import annotations

from typing import Final

PLUGIN_SCALARS: Final = "scalars"
PLUGIN_HISTOGRAMS: Final = "histograms"
PLUGIN_TEXT: Final = "text"
PLUGIN_IMAGES: Final = "images"
PLUGIN_AUDIO: Final = "audio"
PLUGIN_PR_CURVES: Final = "pr_curves"
PLUGIN_MESH: Final = "mesh"
PLUGIN_CUSTOM_SCALARS: Final = "custom_scalars"
PLUGIN_HPARAMS: Final = "hparams"

# Every plugin's content is a versioned message; TensorBoard reads version 0.
PLUGIN_DATA_VERSION: Final = 0

CUSTOM_SCALARS_TAG: Final = "custom_scalars__config__"
EXPERIMENT_TAG: Final = "_hparams_/experiment"
SESSION_START_INFO_TAG: Final = "_hparams_/session_start_info"
SESSION_END_INFO_TAG: Final = "_hparams_/session_end_info"
