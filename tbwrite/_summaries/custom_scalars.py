"""The custom scalars dashboard: PyTorch's layout dict checked and serialized.

Tag ``custom_scalars__config__``, a rank-0 DT_STRING holding a Layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._format.plugin_names import (
    PLUGIN_CUSTOM_SCALARS,
)
from .._proto import plugins_pb2, summary_pb2, tensor_pb2
from .summary_parts import plugin_metadata, summary_value, tensor_proto

CHART_KINDS: Final = ("Multiline", "Margin")


def _tag_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{where} must be a list of tags, got {value!r}")
    tags = []
    for tag in value:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"{where} must hold non-empty str tags, got {tag!r}")
        tags.append(tag)
    return tags


def custom_scalars_layout(layout: Any) -> bytes:
    """PyTorch's layout dict as a serialized Layout.

    ``{category: {chart title: ["Multiline", [tag regex, ...]] | ["Margin", [value,
    lower, upper]]}}``.
    """
    if not isinstance(layout, Mapping) or not layout:
        raise TypeError(
            "layout must be a non-empty dict {category: {title: ['Multiline', [tags]] "
            f"| ['Margin', [value, lower, upper]]}}, got {layout!r}"
        )
    msg = plugins_pb2.Layout()
    for category, charts in layout.items():
        if not isinstance(category, str):
            raise TypeError(f"layout keys must be category names (str), got {category!r}")
        if not isinstance(charts, Mapping):
            raise TypeError(
                f"layout[{category!r}] must be a dict {{title: [kind, tags]}}, got {charts!r}"
            )
        cat = msg.category.add(title=category)
        for title, spec in charts.items():
            where = f"layout[{category!r}][{title!r}]"
            if not isinstance(title, str):
                raise TypeError(f"chart titles in layout[{category!r}] must be str, got {title!r}")
            if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) != 2:
                raise TypeError(
                    f"{where} must be [kind, tags] with kind 'Multiline' or 'Margin', got {spec!r}"
                )
            kind, tags = spec
            tag_list = _tag_list(tags, f"{where}[1]")
            chart = cat.chart.add(title=title)
            if kind == "Multiline":
                if not tag_list:
                    raise ValueError(f"{where}[1] must name at least one tag")
                chart.multiline.tag.extend(tag_list)
            elif kind == "Margin":
                if len(tag_list) != 3:
                    raise ValueError(
                        f"{where}[1] must be the three tags [value, lower, upper], got {tag_list!r}"
                    )
                chart.margin.series.add(value=tag_list[0], lower=tag_list[1], upper=tag_list[2])
            else:
                raise ValueError(f"{where}[0] must be 'Multiline' or 'Margin', got {kind!r}")
    return msg.SerializeToString()


def custom_scalars_summary(tag: str, layout: bytes, *, with_metadata: bool) -> bytes:
    """The custom scalars plugin's config: a rank-0 DT_STRING holding the Layout, under
    ``tag`` (the plugin reads only :data:`CUSTOM_SCALARS_TAG`)."""
    tensor = tensor_proto(tensor_pb2.DT_STRING, [], string_val=[layout])
    md = (
        plugin_metadata(PLUGIN_CUSTOM_SCALARS, b"", summary_pb2.DATA_CLASS_TENSOR)
        if with_metadata
        else None
    )
    return summary_pb2.Summary(value=[summary_value(tag, tensor, md)]).SerializeToString()
