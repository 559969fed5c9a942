# policy_sql VARIANT: the statements that put the variant's policy on products.
policy_sql() {
    echo "SET client_min_messages = warning; DROP POLICY IF EXISTS read ON products;"
    case "$1" in
        norls)    echo "ALTER TABLE products DISABLE ROW LEVEL SECURITY;" ;;
        perrow)   echo "ALTER TABLE products ENABLE ROW LEVEL SECURITY;
                        CREATE POLICY read ON products FOR SELECT USING (authorize(tenant_id, 'product.read'));" ;;
        setbased) echo "ALTER TABLE products ENABLE ROW LEVEL SECURITY;
                        CREATE POLICY read ON products FOR SELECT USING (tenant_id IN (SELECT tenants_with('product.read')));" ;;
        qilin)    echo "ALTER TABLE products ENABLE ROW LEVEL SECURITY;
                        CREATE POLICY read ON products FOR SELECT USING (rbac_has_permission(tenant_id, 'product.read'));" ;;
    esac
}
