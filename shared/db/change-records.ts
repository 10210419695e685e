import { DataTypes, type Model, type ModelStatic, type Sequelize } from 'sequelize';

/** The change records the entity hooks write: one per written row, in the write's transaction. */

export type ChangeAction = 'create' | 'update' | 'delete' | 'restore';
export type Changes = Record<string, [unknown, unknown]>;

export interface ChangeRecordRow {
  id?: string;
  entityType: string;
  entityId: string;
  action: ChangeAction;
  actor: string;
  requestId: string;
  at: Date;
  changes: Changes;
}

let changeRecordModel: ModelStatic<Model<ChangeRecordRow, ChangeRecordRow>> | undefined;

export function changeRecords(sequelize: Sequelize) {
  if (!changeRecordModel || changeRecordModel.sequelize !== sequelize) {
    changeRecordModel = sequelize.define<Model<ChangeRecordRow, ChangeRecordRow>>(
      'ChangeRecord',
      {
        id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
        entityType: { type: DataTypes.TEXT, allowNull: false },
        entityId: { type: DataTypes.UUID, allowNull: false },
        action: { type: DataTypes.TEXT, allowNull: false },
        actor: { type: DataTypes.TEXT, allowNull: false },
        requestId: { type: DataTypes.TEXT },
        at: { type: DataTypes.DATE, allowNull: false },
        changes: { type: DataTypes.JSONB, allowNull: false },
      },
      { tableName: 'change_records', underscored: true, timestamps: false },
    );
  }
  return changeRecordModel;
}

export function changeRecordModelFor(sequelize: Sequelize) {
  return changeRecords(sequelize);
}
