"""The engines: events applied one by one (asynchronous), whole-network rounds
(synchronous), one Trace, chunked long runs and time-varying phases."""
