"""The websocket endpoints: console, tablets, callers, hospitals, video and vitals, on their own
port."""
