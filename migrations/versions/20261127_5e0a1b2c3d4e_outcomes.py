"""placeholder"""
revision = "5e0a1b2c3d4e"
down_revision = "903ce3c1273a"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
