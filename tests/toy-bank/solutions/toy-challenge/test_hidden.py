import pytest
import torch


@pytest.mark.points(3)
@pytest.mark.covers("scaled-sum")
def test_secret_inputs(equivalence, hidden_seed):
    generator = torch.Generator().manual_seed(hidden_seed)
    a, b = torch.randn(4, 5, generator=generator), torch.randn(4, 5, generator=generator)
    # alpha is never 0: there every wrong sign of alpha * b would pass (one run in seven, before)
    equivalence.check("scaled_sum", rtol=1e-6, atol=1e-6, a=a, b=b, alpha=1.0 + hidden_seed % 7)
