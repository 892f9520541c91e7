import pytest
import torch


@pytest.mark.points(2)
@pytest.mark.covers("scaled-sum")
def test_small(equivalence):
    equivalence.check("scaled_sum", rtol=1e-6, atol=1e-6, a=torch.arange(6.0), b=torch.ones(6), alpha=0.5)


@pytest.mark.points(1)
@pytest.mark.memory_limit
@pytest.mark.covers("memory")
def test_memory(equivalence):
    equivalence.check("big_sum", rtol=1e-6, atol=1e-6, size=250_000, alpha=3.0)
