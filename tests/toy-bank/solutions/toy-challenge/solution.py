def scaled_sum(a, b, alpha):
    return a + alpha * b
