"""DNS tests against real DNS servers (dnsmasq, an in-process dnslib server), marker `lab`."""
