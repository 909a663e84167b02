"""Every fact of the byte format, pure and without I/O.

- :mod:`.tfrecord`: TFRecord framing (length, masked CRC-32C, footer) and the decoder.
- :mod:`.wire`: protobuf field keys, varints and the Events encoded by hand.
- :mod:`.names`: event file names (one process-wide counter).
- :mod:`.plugin_names`: the plugin names and reserved tags TensorBoard matches on.
- :mod:`.fast_scalars`, :mod:`.fast_series`: the scalar fast paths (one record, a series).
"""
