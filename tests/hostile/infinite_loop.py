def scaled_sum(a, b, alpha):
    while True:
        pass
