import type { ServiceSchema } from 'moleculer';
import { dataService } from '../../shared/data';
import { buildingResources } from './buildings.resources';

/**
 * Buildings, floors and rooms. Every action comes from the shared data mechanism:
 * `buildings.{create,get,list,update,remove,restore,history}`, and the same under
 * `buildings.floors.*` and `buildings.rooms.*`.
 */
const BuildingsService: ServiceSchema = {
  name: 'buildings',
  mixins: [
    dataService({
      resources: buildingResources,
      expose: [
        { resource: 'building', prefix: '' },
        { resource: 'floor', prefix: 'floors.' },
        { resource: 'room', prefix: 'rooms.' },
      ],
    }),
  ],
};

export default BuildingsService;
