export declare const CONTROL_MIGRATIONS_DIR: string;
export declare const CONTROL_MIGRATIONS_TABLE: string;
export declare function controlMigrationsConfig(config: Record<string, any>, options: { root: string; dir: string }): Record<string, any>;
