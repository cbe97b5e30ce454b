"""The dispatch service (`service.DispatchService`: engine, log and fan-out in one order per
event) and the parts it holds, one module each: calls, locations, hospitals, notices, AEDs..."""
