"""Summary builders: pure functions from checked values to serialized Summary bytes.

One module per kind (or family of kinds); each imports protobuf and numpy, so the writers
import it when the kind is first used. No I/O.
"""
