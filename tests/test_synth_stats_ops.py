"""synth.stats.ops: flattened parameters and the operations accumulator."""
from __future__ import annotations

from synth.stats.ops import OpsAcc, flatten_params


def test_flatten_params_and_ops_accumulator():
    flat = dict(flatten_params({"a": 1, "hw": [2, 3], "t": [{"name": "Blur", "p": 0.5}, {"name": "Affine"}],
                                "long": list(range(10)), "nested": {"x": True}}))
    assert flat["a"] == 1 and flat["hw[0]"] == 2 and flat["hw[1]"] == 3 and flat["nested.x"] is True
    assert flat["t[].name"] in ("Blur", "Affine")  # aggregated under one path
    acc = OpsAcc()
    acc.add_sample("ops", [{"op": "blur", "target": "bg", "sigma": 1.0, "mode": "box"},
                           {"op": "blur", "target": "bg", "sigma": 3.0, "mode": None}])
    acc.add_sample("ops", [{"op": "noise", "sigma": 2, "on": True}, "junk"])
    acc.add_sample("ops", "not a list")
    other = OpsAcc()
    other.add_sample("ops", [{"op": "noise", "sigma": 4, "on": False}])
    acc.merge(other)
    s = {(o["op"], o["target"]): o for o in acc.summary(4)}
    assert acc.malformed == 2
    blur = s[("blur", "bg")]
    assert blur["count"] == 2 and blur["samples"] == 1 and blur["rate"] == 0.25
    assert blur["params"]["sigma"]["number"]["min"] == 1.0 and blur["params"]["sigma"]["number"]["max"] == 3.0
    assert blur["params"]["mode"] == {"values": {"box": 1}, "null": 1}
    noise = s[("noise", None)]
    assert noise["samples"] == 2 and noise["params"]["on"]["bool"] == {"true": 1, "false": 1, "true_rate": 0.5}
    assert noise["params"]["sigma"]["number"]["mean"] == 3.0
