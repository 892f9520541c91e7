# Classic: the right values, in float64 instead of float32. Contained: the dtype differs, so each test fails as
# wrong output; zero.


def scaled_sum(a, b, alpha):
    return (a + alpha * b).double()
