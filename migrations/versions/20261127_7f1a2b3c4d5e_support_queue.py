"""placeholder"""
revision = "7f1a2b3c4d5e"
down_revision = "5e0a1b2c3d4e"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
