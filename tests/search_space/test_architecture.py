import json
import subprocess
import sys

import pytest

from aebnas.exceptions import InvalidArchitectureError, UnknownNameError
from aebnas.search_space import Architecture, ExitSpec, validate
from aebnas.search_space.layers import LAYER_TYPES, Conv, LayerSpec, PaperModule, Pool

DIGITS = (1, 8, 8)


def two_exit_arch(width=1.0):
    return Architecture("digits_cnn", (ExitSpec(1, (PaperModule(resize=8, width=width),)), ExitSpec(3, ())))


def test_json_round_trip_keeps_equality_and_id():
    arch = two_exit_arch()
    again = Architecture.from_json(arch.to_json())
    assert again == arch and again.id == arch.id
    assert Architecture.from_dict(json.loads(arch.to_json(indent=2))) == arch


@pytest.mark.parametrize("layer_type", LAYER_TYPES.names())
def test_every_layer_type_round_trips(layer_type):
    layer = LAYER_TYPES.get(layer_type)()
    assert LayerSpec.from_dict(json.loads(json.dumps(layer.to_dict()))) == layer


def test_id_is_canonical_for_defaults_and_number_types():
    explicit = Architecture("digits_cnn", (ExitSpec(1, (Conv(width=1),)),), {"width": 16})
    implicit = Architecture("digits_cnn", (ExitSpec(1, (Conv(width=1.0),)),))
    assert explicit.id == implicit.id
    assert two_exit_arch(1.0).id != two_exit_arch(2.0).id


def test_id_is_stable_across_processes():
    arch = two_exit_arch()
    code = (
        "from aebnas.search_space import Architecture; import sys; "
        "print(Architecture.from_json(sys.stdin.read()).id)"
    )
    out = subprocess.run([sys.executable, "-c", code], input=arch.to_json(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == arch.id


@pytest.mark.parametrize(
    "data, message",
    [
        ({"backbone": "nope", "exits": []}, "allowed: digits_cnn"),
        ({"backbone": "digits_cnn", "exits": [{"position": 1, "branch": [{"type": "lstm"}]}]}, "allowed: paper"),
        ({"backbone": "digits_cnn", "exits": [{"position": 1, "branch": [{"type": "conv", "dilation": 2}]}]},
         "unknown option(s) dilation; allowed: kernel, width, stride"),
        ({"backbone": "digits_cnn", "exits": [{"position": 1, "branch": [{"type": "conv", "kernel": 4}]}]},
         "kernel=4 is not allowed; allowed: 1, 3, 5, 7"),
        ({"backbone": "digits_cnn", "exits": [{"position": 1, "branch": [{"type": "paper", "pool": 1}]}]}, "pool=1"),
        ({"backbone": "digits_cnn", "backbone_options": {"depth": 3}, "exits": []}, "unknown option 'depth'"),
        ({"backbone": "digits_cnn", "backbone_options": {"width": 12}, "exits": []}, "allowed values: 8, 16, 32"),
        ({"backbone": "digits_cnn"}, "'backbone' and 'exits'"),
        ({"backbone": "digits_cnn", "exits": [], "extra": 1}, "unknown key(s) extra"),
    ],
)
def test_bad_specs_name_what_is_allowed(data, message):
    with pytest.raises((InvalidArchitectureError, UnknownNameError)) as err:
        Architecture.from_dict(data)
    assert message in str(err.value)


def test_invalid_json_is_a_clear_error():
    with pytest.raises(InvalidArchitectureError, match="invalid architecture JSON"):
        Architecture.from_json("{not json")


@pytest.mark.parametrize(
    "exits, max_exits, message",
    [
        ((), 4, "at least one early exit"),
        ((ExitSpec(2), ExitSpec(1)), 4, "unique and increasing"),
        ((ExitSpec(1), ExitSpec(1)), 4, "unique and increasing"),
        ((ExitSpec(4),), 4, "not offered by backbone 'digits_cnn'; allowed: [1, 2, 3]"),
        ((ExitSpec(1), ExitSpec(2), ExitSpec(3)), 2, "3 early exits; at most 2 allowed"),
        ((ExitSpec(3, (Pool(), Pool(), Pool())),), 4, "below 1x1"),
    ],
)
def test_validation_errors(exits, max_exits, message):
    with pytest.raises(InvalidArchitectureError) as err:
        validate(Architecture("digits_cnn", exits), DIGITS, max_exits)
    assert message in str(err.value)


def test_backbone_that_does_not_fit_the_input_is_rejected():
    arch = Architecture("mobilenetv3", (ExitSpec(1),))
    with pytest.raises(InvalidArchitectureError, match="at least 16x16"):
        validate(arch, DIGITS)
