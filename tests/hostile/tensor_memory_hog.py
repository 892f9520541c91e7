# Correct, but holds far more tensor memory than the ceiling allows.


def scaled_sum(a, b, alpha):
    copies = [a.clone() for _ in range(20)]
    return sum(copies) / 20 + alpha * b
