"""The network: graphs and digraphs, Poisson clocks and events, gossip matrices,
spectral constants."""
