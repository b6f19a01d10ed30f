"""placeholder"""
revision = "8a2b3c4d5e6f"
down_revision = "7f1a2b3c4d5e"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
