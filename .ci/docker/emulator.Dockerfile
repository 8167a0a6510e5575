# The project's MongoDB emulator as a container, standing in for mongo:7 where no mongod image can
# be pulled (see standins.sh, which builds it from a context of just the files copied below).
FROM node:20-bookworm-slim
WORKDIR /emulator
ENV MONGOMS_DISABLE_POSTINSTALL=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The mongo service's health check in docker-compose.yml runs mongosh, as it does in mongo:7.
RUN npm install -g --no-audit --no-fund mongosh@2.12.0
COPY tsconfig.json ./
COPY emulator ./emulator
USER node
EXPOSE 27017
CMD ["npx", "tsx", "emulator/cli.ts", "--host", "0.0.0.0", "--port", "27017", "--uninitialized"]
