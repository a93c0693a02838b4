"""Switchboard: queues per service, agent presence and WebRTC signaling."""
