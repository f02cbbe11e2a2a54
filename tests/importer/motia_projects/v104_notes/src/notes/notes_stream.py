from motia import StreamConfig

config = StreamConfig(name="notes", schema={"type": "object"}, base_config={"storage_type": "default"})
