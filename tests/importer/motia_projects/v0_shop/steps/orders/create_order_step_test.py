from steps.orders.create_order_step import config


def test_config_has_a_path():
    assert config["path"] == "/orders"
