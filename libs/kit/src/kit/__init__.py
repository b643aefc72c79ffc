"""The shared kernel of Một Cửa: the small set of things every service needs."""
