"""Hugging Face config keys read as transformers reads them, for the training tools.

The Java runtime's ConfigReader and RopeKeys follow the same rules; each side is tested against
its own independent reference. A value neither implements is refused by name.

* ``llama``: ``hidden_act`` (default ``silu``) decides the feed-forward; LlamaConfig's defaults
  (``rms_norm_eps`` 1e-6, ``bos_token_id`` 1, ``eos_token_id`` 2); ``attention_bias`` and
  ``mlp_bias`` declare the biases; our ``mlp_activation``, when also given, must agree.
* ``bitnet``: ``hidden_act`` must be ``relu2``; BitNetConfig's defaults (``rope_theta`` 500000,
  5 key/value heads, ``rms_norm_eps`` 1e-5, ``bos_token_id`` 128000, ``eos_token_id`` 128001).
* every type: ``rope_theta`` and ``rope_scaling`` (transformers 4) or ``rope_parameters``
  (transformers 5), scaling types ``default``, ``linear`` and ``llama3``.
"""

import math
from typing import Any, Dict, Optional, Tuple

HIDDEN_ACT_TO_MLP = {"silu": "swiglu", "swish": "swiglu", "relu2": "relu2glu"}
_SCALING_KEYS = {
    "default": set(),
    "linear": {"factor"},
    "llama3": {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"},
}


def llama_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    """The qsparse config values a ``llama`` config.json means (to update the raw keys with)."""
    act = data.get("hidden_act", "silu")
    if act not in HIDDEN_ACT_TO_MLP:
        raise ValueError(f"'hidden_act' {act!r} is not supported for model_type llama "
                         f"(supported: {', '.join(sorted(HIDDEN_ACT_TO_MLP))})")
    mlp = HIDDEN_ACT_TO_MLP[act]
    ours = data.get("mlp_activation")
    if ours is not None and ours != mlp:
        raise ValueError(f"'mlp_activation' {ours!r} disagrees with 'hidden_act' {act!r}: "
                         "hidden_act decides the feed-forward of model_type llama")
    attention_bias = bool(data.get("attention_bias", False))
    mlp_bias = bool(data.get("mlp_bias", False))
    if attention_bias != mlp_bias:
        raise ValueError("attention_bias and mlp_bias must agree in the training tools "
                         "(their model has one use_bias switch)")
    out = {"mlp_activation": mlp, "use_bias": attention_bias}
    _defaults(data, out, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2)
    return out


def bitnet_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    """The config values a ``bitnet`` config.json means."""
    act = data.get("hidden_act", "relu2")
    if act != "relu2":
        raise ValueError(f"'hidden_act' must be relu2 for model_type bitnet, got {act!r}")
    out = {"mlp_activation": "relu2glu"}
    _defaults(data, out, rms_norm_eps=1e-5, rope_theta=500000.0, num_key_value_heads=5,
              bos_token_id=128000, eos_token_id=128001)
    return out


def _defaults(data, out, **defaults):
    for key, value in defaults.items():
        if key not in data:
            out[key] = value


def rope(data: Dict[str, Any], default_theta: float) -> Tuple[float, Optional[Dict[str, Any]]]:
    """(rope_theta, scaling) where scaling is None (plain) or a dict with ``rope_type``."""
    _full_rotation(data, "partial_rotary_factor")
    theta = float(data.get("rope_theta") or default_theta)
    legacy = data.get("rope_scaling")
    scaling = _scaling(legacy, "rope_scaling", parameters=False)
    params = data.get("rope_parameters")
    if params is None:
        return theta, scaling
    if not isinstance(params, dict):
        raise ValueError(f"'rope_parameters' must be an object, got {params!r}")
    params_theta = float(params.get("rope_theta", theta))
    params_scaling = _scaling(params, "rope_parameters", parameters=True)
    if data.get("rope_theta") is not None and params_theta != theta:
        raise ValueError(f"'rope_parameters.rope_theta' {params_theta} disagrees with 'rope_theta' {theta}")
    if legacy is not None and params_scaling != scaling:
        raise ValueError(f"'rope_parameters' {params!r} disagrees with 'rope_scaling' {legacy!r}")
    return params_theta, params_scaling


def _scaling(s, key: str, parameters: bool) -> Optional[Dict[str, Any]]:
    if s is None:
        return None
    if not isinstance(s, dict):
        raise ValueError(f"'{key}' must be an object or null, got {s!r}")
    rope_type, legacy_type = s.get("rope_type"), s.get("type")
    if rope_type is not None and legacy_type is not None and rope_type != legacy_type:
        raise ValueError(f"'{key}.rope_type' {rope_type!r} disagrees with '{key}.type' {legacy_type!r}")
    kind = rope_type or legacy_type or ("default" if parameters else None)
    if kind is None:
        raise ValueError(f"'{key}' has no rope_type")
    if kind not in _SCALING_KEYS:
        raise ValueError(f"'{key}.rope_type' {kind!r} is not supported (supported: default, linear, llama3)")
    allowed = _SCALING_KEYS[kind] | {"rope_type", "type", "partial_rotary_factor"} | (
        {"rope_theta"} if parameters else set())
    for name in s:
        if name not in allowed:
            raise ValueError(f"'{key}.{name}' is not supported for rope_type {kind}")
    _full_rotation(s, key + ".partial_rotary_factor")
    if kind == "default":
        return None
    out = {"rope_type": kind}
    for name in sorted(_SCALING_KEYS[kind]):
        if s.get(name) is None:
            raise ValueError(f"'{key}' is missing '{name}'")
        out[name] = s[name]
    if not float(out["factor"]) >= 1:
        raise ValueError(f"'{key}.factor' must be >= 1, got {out['factor']}")
    if kind == "llama3" and not float(out["high_freq_factor"]) > float(out["low_freq_factor"]) > 0:
        raise ValueError(f"'{key}' needs 0 < low_freq_factor < high_freq_factor")
    return out


def _full_rotation(d, key):
    v = d.get(key.rsplit(".", 1)[-1])
    if v is not None and v != 1:
        raise ValueError(f"'{key}' {v!r} is not supported (the whole head is rotated)")


def scale_frequency(inv_freq: float, scaling: Optional[Dict[str, Any]]) -> float:
    """One inverse frequency after the scaling rule (None: unchanged)."""
    if scaling is None:
        return inv_freq
    factor = float(scaling["factor"])
    if scaling["rope_type"] == "linear":
        return inv_freq / factor
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    original = float(scaling["original_max_position_embeddings"])
    wavelength = 2 * math.pi / inv_freq
    if wavelength > original / low:
        return inv_freq / factor
    if wavelength < original / high:
        return inv_freq
    smooth = (original / wavelength - low) / (high - low)
    return (1 - smooth) * inv_freq / factor + smooth * inv_freq
