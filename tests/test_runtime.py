"""Device helpers: which tensors of a returned model are not on the run's device."""

import torch
from torch import nn

from unlearn_bench.runtime import off_device


class Wrapper(nn.Module):
    """A method's wrapper: a registered buffer, a submodule and a plain tensor attribute."""

    def __init__(self):
        super().__init__()
        self.model = nn.Linear(3, 2)
        self.register_buffer("delta", torch.zeros(3))
        self.shift = torch.zeros(3)


def test_a_model_wholly_on_the_device_has_nothing_off_it():
    assert off_device(Wrapper(), torch.device("cpu")) == []


def test_parameters_buffers_and_plain_tensor_attributes_off_the_device_are_named():
    wrapper = Wrapper()
    wrapper.model.bias = nn.Parameter(wrapper.model.bias.detach().to("meta"))
    wrapper.delta = wrapper.delta.to("meta")  # stays a registered buffer
    wrapper.shift = wrapper.shift.to("meta")
    assert sorted(off_device(wrapper, torch.device("cpu"))) == ["delta", "model.bias", "shift"]
    assert sorted(off_device(wrapper, torch.device("meta"))) == ["model.weight"]
